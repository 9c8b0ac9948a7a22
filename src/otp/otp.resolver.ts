import { Arg, Ctx, Directive, Mutation, Query, Resolver } from 'type-graphql';
import { AuthPayload } from '../auth/auth.types';
import type { GraphQLContext } from '../graphql/context';
import { OtpDispatch, OtpStatus, RequestOtpInput, VerifyOtpInput, VerifyRecoveryCodeInput } from './otp.types';
import type { OtpService } from './otp.service';

@Resolver()
export class OtpResolver {
  constructor(private readonly otp: OtpService) {}

  @Directive('@requestOtpPerIp')
  @Mutation(() => OtpDispatch)
  requestOtp(@Arg('input', () => RequestOtpInput) input: RequestOtpInput, @Ctx() ctx: GraphQLContext): Promise<OtpDispatch> {
    return this.otp.request(input.pendingToken, input.channel, ctx.client, input.locale) as Promise<OtpDispatch>;
  }

  @Directive('@otpStatusPerIp')
  @Query(() => OtpStatus, { description: 'Needs the pending token; answers as requestOtp would about it.' })
  otpStatus(@Arg('pendingToken') pendingToken: string): Promise<OtpStatus> {
    return this.otp.status(pendingToken);
  }

  @Directive('@verifyOtpPerIp')
  @Mutation(() => AuthPayload)
  async verifyOtp(@Arg('input', () => VerifyOtpInput) input: VerifyOtpInput, @Ctx() ctx: GraphQLContext): Promise<AuthPayload> {
    return AuthPayload.from(await this.otp.verify(input.pendingToken, input.code, ctx.client));
  }

  @Directive('@verifyRecoveryCodePerIp')
  @Mutation(() => AuthPayload, { description: 'A pending token (sign-in or step-up) and one recovery code instead of an SMS/voice code.' })
  async verifyRecoveryCode(
    @Arg('input', () => VerifyRecoveryCodeInput) input: VerifyRecoveryCodeInput,
    @Ctx() ctx: GraphQLContext,
  ): Promise<AuthPayload> {
    return AuthPayload.from(await this.otp.verifyRecoveryCode(input.pendingToken, input.recoveryCode, ctx.client));
  }
}

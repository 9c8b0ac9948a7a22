import { Arg, Authorized, Ctx, Directive, Mutation, Resolver } from 'type-graphql';
import { PendingAuth } from '../auth/auth.types';
import type { GraphQLContext } from '../graphql/context';
import type { AccountService } from './account.service';
import { ChangePasswordInput, DeleteAccountInput, RecoveryCodes, StartPhoneNumberChangeInput } from './account.types';

@Resolver()
export class AccountResolver {
  constructor(private readonly account: AccountService) {}

  @Directive('@accountChangesPerIp')
  @Authorized()
  @Mutation(() => PendingAuth, { description: "Bearer: a step-up challenge for the user's current number." })
  reauthenticate(@Ctx() ctx: GraphQLContext): Promise<PendingAuth> {
    return this.account.reauthenticate(ctx.viewer!) as Promise<PendingAuth>;
  }

  @Directive('@accountChangesPerIp')
  @Authorized()
  @Mutation(() => Boolean, { description: 'Bearer: ends every other session.' })
  async changePassword(@Arg('input', () => ChangePasswordInput) input: ChangePasswordInput, @Ctx() ctx: GraphQLContext): Promise<boolean> {
    await this.account.changePassword(ctx.viewer!, input, ctx.client);
    return true;
  }

  @Directive('@accountChangesPerIp')
  @Authorized()
  @Mutation(() => PendingAuth, { description: 'Bearer + step-up: codes go to the new number; its verifyOtp switches the number.' })
  startPhoneNumberChange(
    @Arg('input', () => StartPhoneNumberChangeInput) input: StartPhoneNumberChangeInput,
    @Ctx() ctx: GraphQLContext,
  ): Promise<PendingAuth> {
    return this.account.startPhoneNumberChange(ctx.viewer!, input) as Promise<PendingAuth>;
  }

  @Directive('@accountChangesPerIp')
  @Authorized()
  @Mutation(() => RecoveryCodes, { description: 'Bearer + step-up: 10 new codes, shown once; the old ones stop working.' })
  regenerateRecoveryCodes(@Ctx() ctx: GraphQLContext): Promise<RecoveryCodes> {
    return this.account.regenerateRecoveryCodes(ctx.viewer!, ctx.client);
  }

  @Directive('@accountChangesPerIp')
  @Authorized()
  @Mutation(() => Boolean, { description: 'Bearer + step-up + password: the user and everything of theirs.' })
  async deleteAccount(@Arg('input', () => DeleteAccountInput) input: DeleteAccountInput, @Ctx() ctx: GraphQLContext): Promise<boolean> {
    await this.account.deleteAccount(ctx.viewer!, input.password, ctx.client);
    return true;
  }
}

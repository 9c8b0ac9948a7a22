import { Field, InputType, Int, ObjectType, registerEnumType } from 'type-graphql';

export enum OtpChannel {
  SMS = 'SMS',
  VOICE = 'VOICE',
}
registerEnumType(OtpChannel, { name: 'OtpChannel', description: 'Sinch methods "sms" and "callout".' });

@InputType()
export class RequestOtpInput {
  @Field()
  pendingToken!: string;

  @Field(() => OtpChannel, { defaultValue: OtpChannel.SMS })
  channel!: OtpChannel;
}

@InputType()
export class VerifyOtpInput {
  @Field()
  pendingToken!: string;

  @Field()
  code!: string;
}

@ObjectType()
export class OtpDispatch {
  @Field(() => OtpChannel)
  channel!: OtpChannel;

  @Field({ description: 'The code stops being accepted then.' })
  expiresAt!: Date;

  @Field({ description: 'requestOtp before this time answers RATE_LIMITED.' })
  resendAvailableAt!: Date;

  @Field(() => Int, { description: 'Wrong codes still allowed on this pendingToken.' })
  attemptsRemaining!: number;
}

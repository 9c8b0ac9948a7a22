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

  @Field(() => String, { nullable: true, description: 'BCP 47 language for the SMS, such as de-DE; sent to Sinch as Accept-Language.' })
  locale?: string | null;
}

@InputType()
export class VerifyOtpInput {
  @Field()
  pendingToken!: string;

  @Field()
  code!: string;
}

@InputType()
export class VerifyRecoveryCodeInput {
  @Field()
  pendingToken!: string;

  @Field()
  recoveryCode!: string;
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

  @Field(() => Date, {
    nullable: true,
    description: 'requestOtp(channel: VOICE) works from then on; null when the number takes no calls or no sends are left.',
  })
  voiceAvailableAt!: Date | null;

  @Field(() => String, { nullable: true, description: 'The SMS language Sinch reports having used (Content-Language); null when it does not say.' })
  locale!: string | null;
}

@ObjectType({ description: 'Where a pending login stands, for clients that poll after requestOtp.' })
export class OtpStatus {
  @Field({ description: 'The latest code was reported undelivered: ask for another (by voice, say) now, no cooldown.' })
  deliveryFailed!: boolean;

  @Field({ description: 'requestOtp before this time answers RATE_LIMITED.' })
  resendAvailableAt!: Date;

  @Field(() => Date, {
    nullable: true,
    description: 'requestOtp(channel: VOICE) works from then on; null when the number takes no calls or no sends are left.',
  })
  voiceAvailableAt!: Date | null;

  @Field(() => Int, { description: 'Wrong codes still allowed on this pendingToken.' })
  attemptsRemaining!: number;
}

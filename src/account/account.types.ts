import { Field, InputType, ObjectType } from 'type-graphql';

@InputType()
export class ChangePasswordInput {
  @Field()
  currentPassword!: string;

  @Field()
  newPassword!: string;
}

@InputType()
export class StartPhoneNumberChangeInput {
  @Field({ description: 'Any common notation; stored as E.164.' })
  phoneNumber!: string;

  @Field(() => String, { nullable: true, description: 'ISO 3166-1 alpha-2 region for numbers written without +CC.' })
  country?: string | null;
}

@InputType()
export class DeleteAccountInput {
  @Field()
  password!: string;
}

@ObjectType({ description: 'Shown once, never again.' })
export class RecoveryCodes {
  @Field(() => [String])
  codes!: string[];

  @Field()
  createdAt!: Date;
}

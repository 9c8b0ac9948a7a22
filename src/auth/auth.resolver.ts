import { Arg, Ctx, Directive, Mutation, Resolver } from 'type-graphql';
import type { GraphQLContext } from '../graphql/context';
import { LoginInput, PendingAuth, RegisterInput } from './auth.types';
import type { AuthService } from './auth.service';

@Resolver()
export class AuthResolver {
  constructor(private readonly auth: AuthService) {}

  @Directive('@registerPerIp')
  @Mutation(() => PendingAuth)
  register(@Arg('input', () => RegisterInput) input: RegisterInput, @Ctx() ctx: GraphQLContext): Promise<PendingAuth> {
    return this.auth.register(input, ctx.client) as Promise<PendingAuth>;
  }

  // Per email and network too: counted by AuthService.login (PasswordAttempts), with the account lookup.
  @Directive('@loginPerIp')
  @Mutation(() => PendingAuth)
  login(@Arg('input', () => LoginInput) input: LoginInput, @Ctx() ctx: GraphQLContext): Promise<PendingAuth> {
    return this.auth.login(input.email, input.password, ctx.client) as Promise<PendingAuth>;
  }
}

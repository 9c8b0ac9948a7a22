import { Arg, Directive, Mutation, Resolver } from 'type-graphql';
import { LoginInput, PendingAuth, RegisterInput } from './auth.types';
import type { AuthService } from './auth.service';

@Resolver()
export class AuthResolver {
  constructor(private readonly auth: AuthService) {}

  @Directive('@registerPerIp')
  @Mutation(() => PendingAuth)
  register(@Arg('input', () => RegisterInput) input: RegisterInput): Promise<PendingAuth> {
    return this.auth.register(input) as Promise<PendingAuth>;
  }

  @Directive('@loginPerIp')
  @Directive('@loginPerEmail')
  @Mutation(() => PendingAuth)
  login(@Arg('input', () => LoginInput) input: LoginInput): Promise<PendingAuth> {
    return this.auth.login(input.email, input.password) as Promise<PendingAuth>;
  }
}

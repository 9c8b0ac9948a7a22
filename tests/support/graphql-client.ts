/** A plain GraphQL-over-HTTP client, as a front-end or a script would use: no Apollo client. */
export interface GraphQLResponse<T = Record<string, any>> {
  status: number;
  data?: T | null;
  errors?: Array<{ message: string; extensions?: Record<string, any>; path?: string[] }>;
}

export function graphqlClient(url: string) {
  return async function request<T = Record<string, any>>(
    query: string,
    variables?: Record<string, unknown>,
    headers: Record<string, string> = {},
  ): Promise<GraphQLResponse<T>> {
    const response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify({ query, variables }),
    });
    const text = await response.text();
    let body: any;
    try {
      body = JSON.parse(text);
    } catch {
      throw new Error(`non-JSON answer (${response.status}): ${text.slice(0, 200)}`);
    }
    return { status: response.status, data: body.data, errors: body.errors };
  };
}

export type GraphQLRequest = ReturnType<typeof graphqlClient>;

/** The code of the first error, for `expect(codeOf(res)).toBe('OTP_INVALID')`. */
export function codeOf(response: GraphQLResponse): string | undefined {
  return response.errors?.[0]?.extensions?.code;
}

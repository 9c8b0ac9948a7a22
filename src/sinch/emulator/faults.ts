/**
 * A Sinch error answer: HTTP status plus Sinch's body `{ errorCode, message, reference }`.
 * Thrown anywhere in the emulator and written by the server; `errorCode` is a JSON number, as
 * Sinch's mock server and the Java SDK parser have it (the OAS's `string` is not what is sent).
 */
export class SinchApiFault extends Error {
  constructor(
    readonly httpStatus: number,
    readonly errorCode: number,
    message: string,
  ) {
    super(message);
    this.name = 'SinchApiFault';
  }
}

export const invalidParameter = (message: string) => new SinchApiFault(400, 40001, message);
export const missingParameter = (message: string) => new SinchApiFault(400, 40002, message);
export const notFound = () => new SinchApiFault(404, 40400, 'Requested resource was not found.');

/** An error answered to the client with its status code (4xx), as `{"error": …, "message": …}`. */
export class HttpError extends Error {
  constructor(readonly statusCode: number, message: string) {
    super(message);
    this.name = 'HttpError';
  }
}

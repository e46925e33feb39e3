/** The app's API singletons: one HTTP client (with the one token refresh) and its endpoints. */
import { ApiClient } from "./client";
import { endpoints } from "./endpoints";
import { tokenStore, useSession } from "../store/session";

export const apiClient = new ApiClient({
  tokens: tokenStore,
  onSessionEnded: () => useSession.getState().signOut("Your session has ended. Please sign in again."),
});

export const api = endpoints(apiClient);

export { ApiError, NetworkError, tokensFrom } from "./client";
export type * from "./types";

/** A message for people from any error thrown by the API layer. */
export function describeError(err: unknown): string {
  if (err instanceof Error && err.name === "NetworkError") return "Cannot reach the server. Check your connection.";
  if (err instanceof Error && err.name === "ApiError") {
    const e = err as Error & { status: number; retryAfter: number | null };
    if (e.status === 429) return `Too many attempts. Try again${e.retryAfter ? ` in ${e.retryAfter} s` : " later"}.`;
    return e.message;
  }
  return err instanceof Error ? err.message : "Something went wrong.";
}

/** Compile-time check (as in api/contract.ts) that the search responses fit the client's types. */
import type { paths } from "../api/schema";
import type { SearchPage } from "../api/search";

type Fits<A, B> = [A] extends [B] ? true : false;
type Assert<T extends true> = T;
type Res<P extends keyof paths, M extends keyof paths[P], C extends number> = paths[P][M] extends {
  responses: { [K in C]: { content: { "application/json": infer R } } };
}
  ? R
  : never;

export type SearchContractChecks = [Assert<Fits<Res<"/v1/search/messages", "get", 200>, SearchPage>>];

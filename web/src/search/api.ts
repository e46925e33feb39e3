/** The search endpoints bound to the app's API client. */
import { apiClient } from "../api";
import { searchEndpoints } from "../api/search";

export const searchApi = searchEndpoints(apiClient);

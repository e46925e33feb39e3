/**
 * "Arrow Up in an empty composer edits your last message": the composer asks, the message
 * bubble with that key opens its editor. A tiny store so the two need not know each other.
 */
import { create } from "zustand";

export const useEditRequest = create<{ key: string | null }>(() => ({ key: null }));

export function requestEdit(key: string): void {
  useEditRequest.setState({ key });
}

export function editRequestHandled(): void {
  useEditRequest.setState({ key: null });
}

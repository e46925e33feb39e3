/** Pinned messages per chat, most recently pinned first (GET /v1/chats/{id}/pins). */
import { create } from "zustand";
import type { Message } from "../api/types";

interface PinsState {
  pins: Record<string, Message[]>;
  setPins(chatId: string, messages: Message[]): void;
}

export const usePins = create<PinsState>((set) => ({
  pins: {},
  setPins: (chatId, messages) => set((s) => ({ pins: { ...s.pins, [chatId]: messages } })),
}));

import { describe, expect, it } from "vitest";
import type { User } from "../api/types";
import { applyMention, matchMembers, mentionAt } from "./mentions";

const user = (id: number, username: string, display_name: string | null = null): User => ({
  id,
  username,
  display_name,
  bio: null,
  avatar_url: null,
  created_at: "2026-01-01T00:00:00Z",
});

describe("mention autocomplete", () => {
  it("finds the @word before the caret", () => {
    expect(mentionAt("hi @an", 6)).toEqual({ start: 3, query: "an" });
    expect(mentionAt("@", 1)).toEqual({ start: 0, query: "" });
    expect(mentionAt("hi @an there", 12)).toBeNull();
  });

  it("ignores email addresses", () => {
    expect(mentionAt("mail ann@exa", 12)).toBeNull();
  });

  it("matches usernames first, then display names, never me", () => {
    const members = [user(1, "ann"), user(2, "bob", "Annabel Lee"), user(3, "zed_an"), user(4, "carl")];
    expect(matchMembers(members, "an", null).map((u) => u.username)).toEqual(["ann", "bob", "zed_an"]);
    expect(matchMembers(members, "an", "1").map((u) => u.username)).toEqual(["bob", "zed_an"]);
    expect(matchMembers(members, "", null)).toHaveLength(4);
  });

  it("replaces the query with the username and a space", () => {
    expect(applyMention("hi @an", { start: 3, query: "an" }, "ann")).toEqual({ text: "hi @ann ", caret: 8 });
    expect(applyMention("@b and more", { start: 0, query: "b" }, "bob")).toEqual({ text: "@bob and more", caret: 5 });
  });
});

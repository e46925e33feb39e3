import { describe, expect, it } from "vitest";
import { safeNext } from "./next";

describe("safeNext", () => {
  it("follows an app path", () => {
    expect(safeNext("?next=%2Fchats%2F12")).toBe("/chats/12");
  });

  it("refuses other origins", () => {
    for (const bad of ["//evil.test/x", "https://evil.test", "/\\evil.test", "javascript:alert(1)"]) {
      expect(safeNext(`?next=${encodeURIComponent(bad)}`)).toBe("/chats");
    }
  });

  it("defaults to the chat list", () => {
    expect(safeNext("")).toBe("/chats");
  });
});

import { describe, expect, it } from "vitest";
import { highlightPieces, matchesName, snippetStart } from "./text";

describe("highlightPieces", () => {
  it("marks code point spans, not UTF-16 units", () => {
    const text = "😀 Grüße aus Köln";
    expect(highlightPieces(text, [[2, 7]])).toEqual([
      { text: "😀 ", hit: false },
      { text: "Grüße", hit: true },
      { text: " aus Köln", hit: false },
    ]);
  });

  it("ignores spans past the end", () => {
    expect(highlightPieces("abc", [[1, 10]])).toEqual([
      { text: "a", hit: false },
      { text: "bc", hit: true },
    ]);
  });
});

describe("matchesName", () => {
  it("matches word prefixes ignoring case and accents", () => {
    expect(matchesName("Équipe Marketing", "mark")).toBe(true);
    expect(matchesName("Équipe Marketing", "equi")).toBe(true);
    expect(matchesName("Équipe Marketing", "arketing")).toBe(false);
  });
});

describe("snippetStart", () => {
  it("starts at a word boundary before the first hit", () => {
    const text = "one two three four five six seven eight nine ten eleven twelve thirteen";
    const hit = text.indexOf("thirteen");
    const start = snippetStart(text, [[hit, hit + 8]], 5);
    expect(text.slice(start)).toBe("twelve thirteen");
  });
});

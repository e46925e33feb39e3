import { describe, expect, it } from "vitest";
import { parseBlocks, parseInline, plainText, safeHref } from "./markdown";

describe("inline formatting", () => {
  it("reads bold, italic and code", () => {
    expect(parseInline("a **b** *c* _d_ `e`")).toEqual([
      { t: "text", v: "a " },
      { t: "strong", c: [{ t: "text", v: "b" }] },
      { t: "text", v: " " },
      { t: "em", c: [{ t: "text", v: "c" }] },
      { t: "text", v: " " },
      { t: "em", c: [{ t: "text", v: "d" }] },
      { t: "text", v: " " },
      { t: "code", v: "e" },
    ]);
  });

  it("nests italic inside bold", () => {
    expect(parseInline("**bold _and italic_**")).toEqual([
      { t: "strong", c: [{ t: "text", v: "bold " }, { t: "em", c: [{ t: "text", v: "and italic" }] }] },
    ]);
  });

  it("leaves code untouched", () => {
    expect(parseInline("`**not bold** https://x.test`")).toEqual([{ t: "code", v: "**not bold** https://x.test" }]);
  });

  it("keeps snake_case, arithmetic and lone marks as typed", () => {
    expect(parseInline("snake_case_name and 2 * 3 * 4 and **")).toEqual([
      { t: "text", v: "snake_case_name and 2 * 3 * 4 and **" },
    ]);
  });

  it("links http(s) URLs without trailing punctuation", () => {
    expect(parseInline("see https://example.test/a?b=1, then")).toEqual([
      { t: "text", v: "see " },
      { t: "link", href: "https://example.test/a?b=1", v: "https://example.test/a?b=1" },
      { t: "text", v: ", then" },
    ]);
  });

  it("never links other schemes", () => {
    for (const text of ["javascript:alert(1)", "JaVaScRiPt:alert(1)", "data:text/html,<b>x</b>", "vbscript:x"]) {
      expect(parseInline(text).every((n) => n.t === "text")).toBe(true);
    }
    expect(safeHref("javascript:alert(1)")).toBeNull();
    expect(safeHref("https://ok.test/")).toBe("https://ok.test/");
  });

  it("reads mentions but not email addresses", () => {
    expect(parseInline("hi @ann_1, mail ann@example.test")).toEqual([
      { t: "text", v: "hi " },
      { t: "mention", v: "ann_1" },
      { t: "text", v: ", mail ann@example.test" },
    ]);
  });

  it("keeps markup-looking text as text", () => {
    expect(parseInline("<img src=x onerror=alert(1)>")).toEqual([{ t: "text", v: "<img src=x onerror=alert(1)>" }]);
  });
});

describe("blocks", () => {
  it("reads fenced code blocks verbatim", () => {
    expect(parseBlocks("before\n```js\nconst a = **1**;\n```\nafter")).toEqual([
      { t: "p", c: [{ t: "text", v: "before" }] },
      { t: "pre", v: "const a = **1**;" },
      { t: "p", c: [{ t: "text", v: "after" }] },
    ]);
  });

  it("keeps an unclosed fence as text", () => {
    expect(parseBlocks("```\nno end")).toEqual([{ t: "p", c: [{ t: "text", v: "```\nno end" }] }]);
  });

  it("groups consecutive quoted lines", () => {
    expect(parseBlocks("> one\n> **two**\nreply")).toEqual([
      { t: "quote", c: [{ t: "text", v: "one\n" }, { t: "strong", c: [{ t: "text", v: "two" }] }] },
      { t: "p", c: [{ t: "text", v: "reply" }] },
    ]);
  });

  it("gives plain text for previews", () => {
    expect(plainText("**Hi** _there_ `x`\n> q")).toBe("Hi there x\nq");
  });
});

import { describe, expect, it } from "vitest";
import { isPersisted, parseFrame } from "./frames";

describe("parseFrame", () => {
  it("drops frames that are not JSON objects with a type", () => {
    expect(parseFrame("nope")).toBeNull();
    expect(parseFrame("[1]")).toBeNull();
    expect(parseFrame('{"x":1}')).toBeNull();
  });

  it("drops a persisted frame without a cursor", () => {
    expect(parseFrame('{"type":"receive_message","message":{"id":1,"chat_id":1,"seq":1}}')).toBeNull();
  });

  it("accepts a receive_message and marks it persisted", () => {
    const f = parseFrame('{"type":"receive_message","cursor":"4","message":{"id":1,"chat_id":1,"seq":1}}');
    expect(f && isPersisted(f)).toBe(true);
  });

  it("passes unknown frame types through (the server may add frames)", () => {
    expect(parseFrame('{"type":"something_new"}')?.type).toBe("something_new");
  });
});

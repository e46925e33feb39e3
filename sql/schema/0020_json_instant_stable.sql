-- json_instant (0012) was declared IMMUTABLE, but it calls to_char, which is STABLE (its output
-- can depend on settings such as the locale). A function may not claim to be less volatile than
-- what it calls: an IMMUTABLE label is a promise PostgreSQL relies on (in index expressions, and
-- to fold calls with constant arguments while planning) that this one cannot keep.
--
-- With the true label the planner also inlines the function into its caller's expression instead
-- of running its body as a statement of its own: every send calls it once, and the call was about
-- 13,000 of a one-message send's 1,144,000 instructions (`python -m bench.sendcount`); PostgreSQL
-- inlines a SQL function only when its label is at least as volatile as its body.
ALTER FUNCTION json_instant(timestamptz) STABLE;

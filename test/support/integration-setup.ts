// Integration tests talk to a real broker, registry and Redis: consumer-group joins and
// rebalances take seconds, so the default 5 s per test is too short.
jest.setTimeout(120_000);

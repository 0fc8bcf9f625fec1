"""Local simulators of the five vendor APIs, for the demo, tests, benchmarks and cassettes."""

"""haflow's operations: each takes an Env (or a file) and returns data or raises HaflowError.

The CLI and the service call these and only parse arguments and render; they make
their own safety checks, so every caller gets them."""

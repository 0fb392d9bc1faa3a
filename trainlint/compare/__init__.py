"""Compare variants of one spec (losses, optimizers): same init, same data order, ranked fairly.

`variants` turns command-line strings, `compare:` entries or task defaults into spec edits;
`runner` probes each variant through an executor (`executors`: this process or local worker
processes; `ray_executor`: Ray tasks), optionally pruning hopeless ones (`pruning`, ASHA);
`ranking` scores and ranks the results and words the recommendation (pure, no torch).
"""

"""`driftline demo`: a newcomer's first five minutes, with nothing to set up.

It starts a collector (`driftline serve` as a child process on free ports, embedded ClickHouse,
a temporary data dir unless given), serves a small fraud model over HTTP in this process with
driftline's SDK, and sends it seeded traffic in two phases: a baseline on version 1, then two
shifted features and a rollout of version 2, which is slower and less accurate. Half the
requests get a ground-truth label. A short training run is tracked when run tracking is
installed. Then it asks the query API what driftline found — drift per feature, the latency
regression, the accuracy drop — writes the HTML drift report and prints, for each finding, the
`driftline …` command that reproduces it.

    model.py      the scorer, versions 1 and 2 (pure numpy)
    server.py     the model behind HTTP, instrumented with the SDK
    traffic.py    seeded rows and labels, the paced sender, the progress line
    scenario.py   the phases and their recorded time windows
    collector.py  the collector child process: start, wait for the sink, SIGTERM
    findings.py   the queries, the commands that reproduce them, printing
    training.py   the tracked training run (needs driftline.sdk.runs)
    app.py        the order of it all, and clean-up

It sits at the CLI's level: it uses the SDK, the query API's client and the report renderer like
a user would, and touches no collector internals.
"""

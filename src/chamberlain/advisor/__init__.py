"""The advisor: IAM best practices checked on a live account or on an AWS export.

read model (model.py) <- live.py (the store, through ops) | export.py (aws CLI output);
checks/ (one module per practice family) over the read model, with engine.py asking the
policy engine and escalation.py building the privilege-escalation graph; output.py
renders JSON, a table, SARIF and CSV; cli.py is `chamberlain advise`.
"""

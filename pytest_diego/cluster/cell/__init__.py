"""A simulated cell (rep) of the embedded cluster, one OS process each.

``rep`` drives work through the BBS, ``api`` serves the rep API, ``containers`` and ``ledger``
hold what the cell runs and has left, ``instance_server`` gives every instance its port,
``behaviour`` reads what an app or task does, ``container_model`` how long containers take.
"""

"""The local stack manager behind ``driftline stack``: the real services driftline needs,
started on this machine.

No Docker here, so ``up`` runs Kafka (KRaft, from Maven Central jars, ``kafkadist``), a
dedicated PostgreSQL cluster (Debian's package, ``pgcluster``), an MLflow tracking server and
an SMTP sink (``services``, ``mailsink``), all on 127.0.0.1, and waits until each one answers.
``up`` is idempotent; ``down`` stops only what ``up`` started (by recorded pid,
``processes``). State, logs and pids live in ``<state_dir>/stack/``.

No click here: the commands in ``cli/stack.py`` are thin and report :class:`StackError` (exit
1) and :class:`StackConfigError` (exit 2).
"""

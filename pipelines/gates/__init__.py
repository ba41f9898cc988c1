"""Quality gates: the candidate's metrics, segments and edge cases against the config's
thresholds (`rules`, one pure function shared by the Evaluate job and the definition); the
metrics each problem type has (`catalog`) and their computation (`metrics`)."""

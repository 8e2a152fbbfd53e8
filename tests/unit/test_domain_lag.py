from hookstream.domain.lag import partition_lag


def test_lag_is_the_records_between_the_commit_and_the_end():
    assert partition_lag({"a": 40, "b": 100}, {"a": 0, "b": 0}, {"a": 100, "b": 100}) == {"a": 60, "b": 0}


def test_a_partition_never_committed_on_is_behind_by_what_the_log_holds():
    lag = partition_lag({"a": -1}, {"a": 30, "b": 10}, {"a": 100, "b": 15})
    assert lag == {"a": 70, "b": 5}


def test_records_removed_by_retention_are_not_counted():
    # committed before the log's start: the group resumes at the start, so only what remains is lag
    assert partition_lag({"a": 5}, {"a": 50}, {"a": 80}) == {"a": 30}


def test_lag_is_never_negative():
    # a commit read just after the end offsets were (the two are not read atomically)
    assert partition_lag({"a": 12}, {"a": 0}, {"a": 10}) == {"a": 0}

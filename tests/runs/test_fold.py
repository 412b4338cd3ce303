"""Node-set folding: the label of an output group."""

from hypothesis import given
from hypothesis import strategies as st

from opstui.runs.fold import fold_names, unfold


def test_consecutive_padded_numbers_fold_into_one_range():
    names = [f"web-{i:02d}" for i in range(1, 13)] + ["batch-3"]
    assert fold_names(names) == "web-[01-12],batch-3"


def test_gaps_make_separate_ranges_and_singletons_stay_plain():
    assert fold_names(["web-01", "web-02", "web-03", "web-07", "db-1"]) == "web-[01-03,07],db-1"


def test_suffix_after_the_number_is_kept():
    assert fold_names(["rack1-a", "rack2-a", "rack3-a"]) == "rack[1-3]-a"


def test_names_without_numbers_and_duplicates():
    assert fold_names(["bastion", "bastion", "web-1"]) == "bastion,web-1"


def test_unpadded_numbers_cross_a_digit_boundary():
    assert fold_names(["n-9", "n-10", "n-11"]) == "n-[9-11]"


_name = st.builds(
    lambda prefix, n, width, suffix: f"{prefix}{n:0{width}d}{suffix}",
    st.sampled_from(["web-", "db-", "batch", "node-", "x"]),
    st.integers(0, 120),
    st.sampled_from([1, 2, 3]),
    st.sampled_from(["", "-a", ".prod"]),
)


@given(st.lists(_name | st.sampled_from(["bastion", "nat", "proxy-b"]), min_size=1, max_size=40))
def test_fold_then_unfold_gives_back_the_same_names(names):
    assert unfold(fold_names(names)) == set(names)


@given(st.lists(_name, min_size=1, max_size=40))
def test_folding_never_gets_longer_than_listing(names):
    assert len(fold_names(names)) <= len(",".join(sorted(set(names))))

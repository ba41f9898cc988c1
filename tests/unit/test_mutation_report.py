"""The `make mutation` table: mutants grouped by module, equivalents left out of the score."""

from __future__ import annotations

from tests.mutation.report import module_of, table


def test_mutant_names_map_to_their_module() -> None:
    assert module_of("pipelines.gates.rules.x_evaluate_gates__mutmut_7") == "pipelines.gates.rules"
    assert module_of("pipelines.gates.rules.xǁGateResultǁto_json__mutmut_1") == "pipelines.gates.rules"


def test_the_score_leaves_equivalents_out_and_judges_each_module_against_the_target() -> None:
    statuses = {f"pipelines.a.x_f__mutmut_{i}": "killed" for i in range(19)}
    statuses |= {"pipelines.a.x_f__mutmut_19": "survived", "pipelines.a.x_f__mutmut_20": "survived"}
    statuses |= {"pipelines.b.x_g__mutmut_1": "killed", "pipelines.b.x_g__mutmut_2": "no tests"}
    text, met = table(statuses, {"pipelines.a.x_f__mutmut_20": "same behaviour"})
    assert "| pipelines.a | 21 | 19 | 1 | 0 | 0 | 1 | 95.0% |" in text  # 19 of 20 judged
    assert "| pipelines.b | 2 | 1 | 0 | 1 | 0 | 0 | 50.0% |" in text
    assert met is False
    assert table({"pipelines.a.x_f__mutmut_1": "killed"}, {})[1] is True

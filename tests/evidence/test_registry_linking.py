"""The same trial registered twice, and where its registrations disagree."""

from __future__ import annotations

import dataclasses

from equipoise.evidence.registry_linking import find_links, link_pair, linked_ids, normalised_title_tokens
from equipoise.evidence.registry_record import RegistryRecord
from tests.evidence.registry_support import EXAMPLES, records


def example_records() -> dict[str, RegistryRecord]:
    found: dict[str, RegistryRecord] = {}
    for path in sorted(EXAMPLES.iterdir()):
        found.update(records(path))
    return found


def test_links_in_the_examples():
    links = {link.ids: link for link in find_links(list(example_records().values()))}
    assert sorted(links) == [("ChiCTR2000030138", "NCT04273646"), ("ChiCTR2000031430", "NCT04288102")]
    by_ids = links[("ChiCTR2000031430", "NCT04288102")]
    assert "NCT04288102 lists ChiCTR2000031430 as a secondary id" in by_ids.reasons
    assert by_ids.disagreements == ()
    by_title = links[("ChiCTR2000030138", "NCT04273646")]
    assert by_title.reasons == ("titles 100% alike and the same sponsor",)
    assert by_title.disagreements == ("randomized: ChiCTR2000030138 no, NCT04273646 yes",)


def test_org_study_ids_shared_by_one_sponsor_do_not_link_different_trials():
    found = example_records()
    assert link_pair(found["NCT04288102"], found["NCT04252118"]) is None


def test_size_and_blinding_disagreements():
    found = example_records()
    a = found["NCT04288102"]
    b = dataclasses.replace(found["ChiCTR2000031430"], enrollment=200,
                            classification=dataclasses.replace(found["ChiCTR2000031430"].classification,
                                                               blinded=False))
    link = link_pair(a, b)
    assert link is not None
    assert "size: ChiCTR2000031430 200, NCT04288102 101" in link.disagreements
    assert "blinded: ChiCTR2000031430 no, NCT04288102 yes" in link.disagreements


def test_title_normalisation_makes_covid_and_msc_spellings_one():
    assert normalised_title_tokens("Mesenchymal stem cells for 2019-nCoV") == normalised_title_tokens(
        "MSCs for COVID-19")


def test_linked_ids_follow_chains():
    found = example_records()
    links = find_links(list(found.values()))
    assert linked_ids(links)["NCT04288102"] == {"ChiCTR2000031430"}

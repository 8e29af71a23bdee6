"""Dataset gazetteer: mentions linked to entities through aliases and spelling variants."""

from __future__ import annotations

from pathlib import Path

import pytest

from fmreview.errors import InputError
from fmreview.extract.gazetteer import DatasetGazetteer, bundled_gazetteer, load_gazetteer
from fmreview.protocol import flagship_path, load_protocol


@pytest.fixture(scope="module")
def gaz() -> DatasetGazetteer:
    return bundled_gazetteer()


def links(gaz: DatasetGazetteer, text: str) -> list[tuple[str, str]]:
    return [(m.entity, m.span.text) for m in gaz.find(text)]


def test_bundled_gazetteer_has_the_datasets(gaz: DatasetGazetteer) -> None:
    # the shared gazetteer's 113 datasets plus those fmreview adds (marked in the CSV)
    added = [
        e
        for e in gaz.entities.values()
        if "added by fmreview" in e.info.get("size_notes_and_list_crosscheck", "")
    ]
    assert len(gaz) - len(added) == 113 and {"MoNuSeg", "CoNSeP", "DRIVE"} <= {
        e.name for e in added
    }
    assert "MIMIC-CXR" in gaz and "BraTS" in gaz
    assert gaz.entities["MIMIC-CXR"].modality.startswith("X-ray")


@pytest.mark.parametrize(
    "text,entity",
    [
        ("MIMIC-CXR", "MIMIC-CXR"),
        ("mimic cxr", "MIMIC-CXR"),
        ("MIMIC_CXR", "MIMIC-CXR"),
        ("MIMICCXR", "MIMIC-CXR"),
        ("MIMIC-CXR-JPG v2.0.0", "MIMIC-CXR"),
        ("NIH ChestX-ray14", "ChestX-ray14"),
        ("ChestXray14", "ChestX-ray14"),
        ("CheXpert-v1.0-small", "CheXpert"),
        ("CheXpert Plus", "CheXpert Plus"),
        ("BraTS 2021", "BraTS"),
        ("BraTS2023", "BraTS"),
        ("KiTS19", "KiTS"),
        ("ISIC 2019", "ISIC"),
        ("ROCOv2", "ROCOv2"),
        ("ROCO", "ROCO"),
        ("Camelyon16", "CAMELYON16"),
        ("CAMELYON17", "CAMELYON17"),
        ("Medical Segmentation Decathlon", "MSD"),
        ("VQA-RAD", "VQA-RAD"),
        ("vqa_rad", "VQA-RAD"),
    ],
)
def test_spelling_variants_link(gaz: DatasetGazetteer, text: str, entity: str) -> None:
    found = gaz.find(f"We evaluate on {text} and report AUC.")
    assert [m.entity for m in found] == [entity]
    m = found[0]
    assert f"We evaluate on {text} and report AUC."[m.span.start : m.span.end] == m.span.text


def test_spans_in_a_sentence(gaz: DatasetGazetteer) -> None:
    text = "Pretrained on MIMIC-CXR and CheXpert; zero-shot on RSNA Pneumonia and SIIM-ACR."
    assert links(gaz, text) == [
        ("MIMIC-CXR", "MIMIC-CXR"),
        ("CheXpert", "CheXpert"),
        ("RSNA Pneumonia Detection", "RSNA Pneumonia"),
        ("SIIM-ACR Pneumothorax", "SIIM-ACR"),
    ]
    (m,) = gaz.find("see MIMIC-CXR", field="abstract")
    assert (m.span.field, m.span.start, m.span.end) == ("abstract", 4, 13)


def test_common_words_do_not_link(gaz: DatasetGazetteer) -> None:
    assert links(gaz, "a word dataset of panda images in the atlas of isles under chaos") == []
    assert links(gaz, "the WORD dataset") == [("WORD", "WORD dataset")]


def test_longest_mention_wins(gaz: DatasetGazetteer) -> None:
    assert links(gaz, "the CheXpert Plus reports") == [("CheXpert Plus", "CheXpert Plus")]
    assert links(gaz, "Shenzhen chest X-ray set") == [
        ("Shenzhen chest X-ray set", "Shenzhen chest X-ray set")
    ]


def test_lookup_of_list_names(gaz: DatasetGazetteer) -> None:
    assert gaz.lookup("MIMIC-CXR") == "MIMIC-CXR"
    assert gaz.lookup("Mass-100K") == "Mass-100K"
    assert gaz.lookup("PMC-OA") == "PMC-OA"
    assert gaz.lookup("ChestX-ray14") == "ChestX-ray14"
    assert gaz.lookup("kits 2019") == "KiTS"
    assert gaz.lookup("unheard-of data") is None


def test_link_groups_mentions_by_entity(gaz: DatasetGazetteer) -> None:
    res = gaz.link({"title": "CLIP on MIMIC-CXR", "abstract": "We use MIMIC CXR and IU X-ray."})
    assert sorted(res) == ["IU X-ray", "MIMIC-CXR"]
    assert [m.span.field for m in res["MIMIC-CXR"]] == ["title", "abstract"]


def test_custom_gazetteer_file(tmp_path: Path) -> None:
    (tmp_path / "g.csv").write_text("name,aliases,modality\nDermaSet,Derma Set; DS-1,dermoscopy\n")
    proto = load_protocol(flagship_path()).model_copy(update={"gazetteer": None})
    assert load_gazetteer(proto) is None
    from fmreview.protocol.model import Gazetteer

    proto = proto.model_copy(update={"gazetteer": Gazetteer(file="g.csv")})
    g = load_gazetteer(proto, tmp_path)
    assert g is not None and links(g, "trained on derma-set") == [("DermaSet", "derma-set")]
    with pytest.raises(InputError, match="does not exist"):
        load_gazetteer(proto, tmp_path / "elsewhere")
    (tmp_path / "bad.csv").write_text("title,x\na,b\n")
    with pytest.raises(InputError, match="no 'name' column"):
        DatasetGazetteer.from_csv(tmp_path / "bad.csv")


@pytest.mark.parametrize(
    "text,entity",
    [
        ("TCGA-BRCA", "TCGA-BRCA"),
        ("Kvasir-SEG", "Kvasir-SEG"),
        ("AMOS22", "AMOS"),
        ("FLARE22", "FLARE"),
        ("MM-WHS", "MM-WHS"),
        ("PathMMU", "PathMMU"),
        ("OmniMedVQA", "OmniMedVQA"),
        ("3D-IRCADb", "3D-IRCADb"),
        ("MedQA", "MedQA"),
        ("the EchoNet-Pediatric", "EchoNet-Pediatric"),
        ("MURA", "MURA"),
        ("RadImageNet", "RadImageNet"),
        ("the CRAG", "CRAG"),
        ("DIARETDB1", "DIARETDB1"),
        ("the Duke Breast Cancer MRI", "Duke-Breast-Cancer-MRI"),
    ],
)
def test_widely_used_datasets_link(gaz: DatasetGazetteer, text: str, entity: str) -> None:
    assert [m.entity for m in gaz.find(f"We evaluate on {text} and report AUC.")] == [entity]


def test_a_sub_cohort_is_its_own_entity(gaz: DatasetGazetteer) -> None:
    # TCGA-BRCA is also an alias of TCGA: the entity's own name wins, in text and lookup
    assert links(gaz, "TCGA-BRCA and TCGA-RCC") == [
        ("TCGA-BRCA", "TCGA-BRCA"),
        ("TCGA-RCC", "TCGA-RCC"),
    ]
    assert gaz.lookup("TCGA-BRCA") == "TCGA-BRCA" and gaz.lookup("TCGA") == "TCGA"
    assert gaz.lookup("the DDR dataset".removeprefix("the ")) == "OIA-DDR"


def test_a_name_does_not_start_inside_a_word(gaz: DatasetGazetteer) -> None:
    assert links(gaz, "R-SLAKE and SLAKE") == [("SLAKE", "SLAKE")]


def test_names_that_are_words_or_places(gaz: DatasetGazetteer) -> None:
    # one-word names in capitals that are English words match only as written
    assert links(gaz, "we inspect each instance and the panorama") == []
    assert links(gaz, "CTPA studies from INSPECT") == [("INSPECT", "INSPECT")]
    # place names are datasets only when the text says so
    assert links(gaz, "collected at Shenzhen People's Hospital") == []
    assert [e for e, _ in links(gaz, "the Montgomery and Shenzhen datasets")] == [
        "Montgomery County CXR",
        "Shenzhen CXR",
    ]


def test_names_used_as_metrics_are_not_datasets(gaz: DatasetGazetteer) -> None:
    text = (
        "Evaluated on the MIMIC-CXR dataset using Chest Radiograph Expert (CheXpert) and "
        "Radiology Graph (RadGraph) metrics, the CheXpert F1 rose by 10 points."
    )
    assert links(gaz, text) == [("MIMIC-CXR", "MIMIC-CXR")]
    assert [e for e, _ in links(gaz, "on MIMIC-CXR with BLEU and CheXpert metrics")] == [
        "MIMIC-CXR"
    ]
    # a score reported in brackets after a dataset does not make it a metric
    assert links(gaz, "ISIC 2018 (F1 0.91) and CheXpert, achieving F1 0.8") == [
        ("ISIC", "ISIC 2018"),
        ("CheXpert", "CheXpert"),
    ]


def test_a_known_name_inside_a_longer_dataset_name(gaz: DatasetGazetteer) -> None:
    # the longer name is left to the name patterns (a dataset proposed for the gazetteer)
    assert links(gaz, "on the EndoVis Conversations dataset") == []
    assert links(gaz, "on the BraTS-Africa dataset") == []
    # descriptive words do not make a longer name
    assert links(gaz, "on the BraTS MRI dataset") == [("BraTS", "BraTS")]
    assert links(gaz, "on the BraTS 2021 challenge") == [("BraTS", "BraTS 2021")]


def test_a_name_joined_to_a_model_is_the_model(gaz: DatasetGazetteer) -> None:
    assert links(gaz, "Quilt-LLaVA: Visual Instruction Tuning") == []
    assert links(gaz, "MIAS-SAM: Medical Image Anomaly Segmentation") == []
    assert links(gaz, "Quilt-1M and MIAS") == [("Quilt-1M", "Quilt-1M"), ("MIAS", "MIAS")]


def test_bundled_csv_is_well_formed() -> None:
    import csv

    from fmreview.extract.gazetteer import bundled_gazetteer_path

    with bundled_gazetteer_path().open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        rows = list(reader)
        fields = reader.fieldnames or []
    assert fields[:2] == ["name", "aliases"]
    # every row has exactly the header's columns (an unquoted comma would shift them)
    assert [r["name"] for r in rows if None in r or None in r.values()] == []
    names = [r["name"] for r in rows]
    assert len(names) == len(set(names))


def test_sub_datasets_are_their_own_entities(gaz: DatasetGazetteer) -> None:
    text = "on PathMNIST, DermaMNIST and BloodMNIST from MedMNIST v2"
    assert [e for e, _ in links(gaz, text)] == ["PathMNIST", "DermaMNIST", "BloodMNIST", "MedMNIST"]


def test_releases_coordinated_with_a_year_are_each_evidence(gaz: DatasetGazetteer) -> None:
    text = "We use the MICCAI EndoVis 2017 and 2018 challenges and ISIC 2018, 2019 and 2020."
    assert links(gaz, text) == [
        ("EndoVis", "EndoVis 2017"),
        ("EndoVis", "2018"),
        ("ISIC", "ISIC 2018"),
        ("ISIC", "2019"),
        ("ISIC", "2020"),
    ]
    # a number that is not a year is not a release
    assert links(gaz, "ISIC 2018 and 2,000 more images") == [("ISIC", "ISIC 2018")]


def test_vqla_releases_are_their_own_datasets(gaz: DatasetGazetteer) -> None:
    text = "on EndoVis-17-VQLA, EndoVis-18-VQLA, EndoVis-18-VQA and Cholec80-VQA"
    assert [e for e, _ in links(gaz, text)] == [
        "EndoVis-17-VQLA",
        "EndoVis-18-VQLA",
        "EndoVis-18-VQA",
        "Cholec80-VQA",
    ]


def test_a_coordinated_year_is_that_years_release(gaz: DatasetGazetteer) -> None:
    # the 2018 bowl is its own entity, not the 2017 one's second mention
    text = "Data Science Bowl 2017 and 2018 images."
    assert [e for e, _ in links(gaz, text)] == ["Data Science Bowl 2017", "DSB2018"]
    # a year-specific entity does not take a year the gazetteer has no release for
    assert [e for e, _ in links(gaz, "APTOS 2019 and 2020 fundus sets")] == ["APTOS 2019"]
    # a family entity takes every year, known or not
    assert [e for e, _ in links(gaz, "BraTS 2019 and 2022")] == ["BraTS", "BraTS"]

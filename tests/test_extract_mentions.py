"""Dataset names the gazetteer does not know, found by how papers name datasets."""

from __future__ import annotations

from fmreview.extract.gazetteer import bundled_gazetteer
from fmreview.extract.mentions import find_names
from fmreview.extract.rules import RuleSet
from fmreview.protocol import flagship_path, load_protocol


def names(text: str) -> list[str]:
    return [n.name for n in find_names(text)]


def test_named_before_dataset_or_benchmark() -> None:
    assert names("We train on the ChiMed-VL dataset.") == ["ChiMed-VL"]
    assert names("Results on our new KneeSeg2024 benchmark") == ["KneeSeg2024"]
    assert names("We present OrthoBench, a suite of tasks.") == ["OrthoBench"]


def test_lists_of_names() -> None:
    assert names("on the CoNSeP, MoNuSeg and TNBC datasets") == ["CoNSeP", "MoNuSeg", "TNBC"]
    assert names("two public datasets, i.e., IDRiD and Retinal-Lesions, show") == [
        "IDRiD",
        "Retinal-Lesions",
    ]


def test_apposition_names_a_new_dataset() -> None:
    got = names("we propose RadioGraphy Captions (RGC), a high-quality radiographic dataset")
    assert got == ["RadioGraphy Captions (RGC)"]


def test_words_that_are_not_names() -> None:
    assert names("Experiments on CT and MRI datasets") == []
    assert names("We use a public dataset and the Medical dataset") == []
    assert names("SAM dataset") == []


def test_rules_link_known_names_and_propose_the_rest() -> None:
    rules = RuleSet(load_protocol(flagship_path()), bundled_gazetteer())
    text = (
        "We evaluate on the MIMIC-CXR dataset and on the new ThyroUS-3K dataset. "
        "SAM has shown strong results on the SA-1B and COCO datasets."
    )
    labs = {lab.value: lab for lab in rules.label({"abstract": text}, axes=["datasets"])}
    assert "MIMIC-CXR" in labs and "ThyroUS-3K" in labs
    assert labs["ThyroUS-3K"].evidence[0].text == "ThyroUS-3K"
    assert "COCO" not in labs  # named in a background sentence about other work


def test_bare_lists_only_in_sentences_about_datasets() -> None:
    text = (
        "We use three public datasets. Results on BUSI, TN3K2 and KvasirSEG datasets improve. "
        "We compare with SAM, MedSAM and SAM-Med2D on these datasets. We thank ABC1 and DEF2."
    )
    assert names(text) == ["BUSI", "TN3K2", "KvasirSEG"]


def test_names_in_apposition() -> None:
    assert names("We construct RoMed, a dataset built upon VQA-RAD.") == ["RoMed"]
    assert names("We introduce RadVUQA, a novel Radiological Visual Understanding benchmark.") == [
        "RadVUQA"
    ]
    assert names("we construct a publicly accessible database, MedSegDB, based on 129 sets") == [
        "MedSegDB"
    ]
    # a model in apposition, or a name after 'dataset,' that is not made here, is not one
    assert names("We propose MedSAM, a foundation model trained on a large dataset.") == []
    assert names("On this dataset, UniverSeg outperforms nnU-Net.") == []


def test_challenge_names_with_a_year() -> None:
    text = "Experiments on KiPA22, LUMIERE2023 and BraTS21 beat the MICCAI2023 winners."
    assert names(text) == ["KiPA22", "LUMIERE2023", "BraTS21"]
    # not in a sentence about data or experiments
    assert names("The ABCD2023 consortium met in Vancouver.") == []


def test_a_phrase_joined_by_and_is_not_a_name() -> None:
    text = "a Radiological Visual Understanding and Question Answering benchmark"
    assert names(text) == []
    assert names("the R-RAD, R-SLAKE and R-Path datasets") == ["R-RAD", "R-SLAKE", "R-Path"]


def test_a_single_capitalised_word_before_dataset() -> None:
    assert names("We evaluate on the Chaoyang dataset.") == ["Chaoyang"]
    assert names("Results on the Synapse and Chaoyang datasets.") == ["Synapse", "Chaoyang"]
    # a word: a modality, a nationality, at the start of a sentence, or written in lower
    # case elsewhere in the text
    assert names("In the Ultrasound dataset we segment.") == []
    assert names("We use the Chinese dataset.") == []
    assert names("Public dataset. Results on the Breast dataset and on breast images.") == []


def test_apposition_with_the_and_symbols() -> None:
    assert names("We release CellMix, a new H&E dataset of 9 cell types.") == ["CellMix"]
    assert names("We build OrthoQA, the first orthopaedic (X-ray) VQA benchmark.") == ["OrthoQA"]
    assert names("We propose UniMed, the first model pretrained on a large dataset.") == []


def test_names_the_work_is_evaluated_on() -> None:
    assert names("Experiments on RetiLes-2 and FooScan show gains.") == ["RetiLes-2", "FooScan"]
    assert names("We evaluate X on RetiLes-2, FooScan and DermX.") == [
        "RetiLes-2",
        "FooScan",
        "DermX",
    ]
    assert names("Evaluated on RetiLes-2, the model reaches 90% accuracy.") == ["RetiLes-2"]
    # models, plain words and modalities after "on" are not datasets
    assert names("Results on MedSAM and SAM-Med2D differ.") == []
    assert names("We evaluate on CT and MRI scans from two hospitals.") == []
    assert names("We focus on Dice.") == []


def test_a_new_dataset_named_after_a_comma_or_in_brackets() -> None:
    assert names("We introduce a new dataset, named PathText-100K, with captions.") == [
        "PathText-100K"
    ]
    assert names("We curated a large dataset (MedImg-5M) of 5 million images.") == ["MedImg-5M"]
    assert names("We used a dataset (N=500) of scans.") == []


def test_a_collection_the_work_makes_named_with_its_size() -> None:
    assert names("We curate PMC-Caps, comprising 15 million figure-caption pairs.") == ["PMC-Caps"]
    assert names("We construct OphthoQA containing 12,000 question-answer pairs.") == ["OphthoQA"]
    # a model is not described by what it contains; nor is a name the work did not make
    assert names("We introduce MedXNet, comprising 12 transformer layers.") == []
    assert names("We propose UltraFM, pretrained on 2 million images.") == []
    assert names("Prior work used FooSet, containing 500 scans.") == []


def test_each_name_of_a_list_may_have_its_article() -> None:
    text = "Experiments on two public datasets, the BCSS and the FooGland datasets, show gains."
    assert names(text) == ["BCSS", "FooGland"]


def test_a_capitalised_kind_is_part_of_the_name_in_running_text() -> None:
    text = "We introduce the JAMA Clinical Challenge, a benchmark of diagnostic cases."
    assert names(text) == ["JAMA Clinical Challenge"]
    assert names("Results on the BraTS and KiTS Challenges improve.") == ["BraTS", "KiTS"]
    # no acronym or digit in the name: descriptive words, not a name
    assert names("We release the Visual Question Answering Benchmark for CT.") == []
    # titles capitalise every word
    assert find_names("The JAMA Clinical Challenge Dataset", "title") == []


def test_a_bracketed_list_after_datasets() -> None:
    assert names("We evaluate on four datasets (BUSI, UDIAT2, TN3K).") == [
        "BUSI",
        "UDIAT2",
        "TN3K",
    ]
    # words in brackets are not names
    assert names("We evaluate on four datasets (CT, MRI).") == []


def test_a_name_with_its_size_in_brackets() -> None:
    text = "We pretrain on ThyroScan2 (n = 1,204 patients) and BigCT (12,000 CT scans)."
    assert names(text) == ["ThyroScan2", "BigCT"]
    # a model's name, or a plain word, with a count is not a dataset
    assert names("MedSAM (1.5 million images) is strong. Results (3 images) vary.") == []


def test_a_title_naming_the_dataset_the_work_presents() -> None:
    def title(t: str) -> list[str]:
        return [n.name for n in find_names(t, "title")]

    assert title("KneeQA: A Multi-Modal Question Answering Dataset for Knee MRI") == ["KneeQA"]
    assert title("OrthoEval: A Comprehensive Benchmark of Orthopaedic VLMs") == ["OrthoEval"]
    # a model presented with a dataset, or a benchmark framework, is not a dataset's name
    assert title("KneeNet: A Model Trained on a New Knee Dataset") == []
    assert title("BenchY: A Unified Benchmark Framework for Pretraining") == []

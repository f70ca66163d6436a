"""The profiles of ``reproduce_paper.py``: data, network and budgets of one run.

paper     CIFAR10-LT, r=100, at most 1,000 images per class (2,478 images),
          ConvNet3 (width 128), 300 epochs, GM 1000 iterations, MTT 5000
          iterations with 100 experts: the paper's setting.
standard  The standard CIFAR10-LT (r=100, 12,406 images), 200 epochs.
cpu       The paper's data with a reduced budget that runs on two CPU cores
          (width 32, 30 epochs, 10 GM iterations, 100 MTT iterations).
smoke     digits-LT, tiny everything: the whole script in under a minute.
"""

from __future__ import annotations

#: Recovery steps of statistics matching in every GPU and CPU profile.
SM_ITERATIONS = 100

PROFILES = {
    "paper": {
        "data": "cifar10", "max_per_class": 1000, "width": 128, "epochs": 300,
        "distilled_epochs": 301, "dsa_epochs": 1001, "ipc": 10,
        "gm": {"n_iterations": 1000},
        "mtt": {"n_iterations": 5000, "n_experts": 100},
        "dm": {"n_iterations": 20000}, "idm": {"n_iterations": 20000},
        "teacher": {"epochs": 200}, "sm": {"n_iterations": SM_ITERATIONS},
        "student_epochs": 1000, "coreset": {"scoring_epochs": 40},
        "seeds": [0, 1, 2],
    },
    "standard": {
        "data": "cifar10", "max_per_class": None, "width": 128, "epochs": 200,
        "distilled_epochs": 301, "dsa_epochs": 1001, "ipc": 10,
        "gm": {"n_iterations": 1000},
        "mtt": {"n_iterations": 5000, "n_experts": 100},
        "dm": {"n_iterations": 20000}, "idm": {"n_iterations": 20000},
        "teacher": {"epochs": 200}, "sm": {"n_iterations": SM_ITERATIONS},
        "student_epochs": 1000, "coreset": {"scoring_epochs": 40},
        "seeds": [0],
    },
    "cpu": {
        "data": "cifar10", "max_per_class": 1000, "width": 32, "epochs": 30,
        "distilled_epochs": 300, "dsa_epochs": 300, "ipc": 10,
        "gm": {"n_iterations": 10, "outer_loop": 10, "inner_loop": 10},
        "mtt": {"n_iterations": 100, "n_experts": 5},
        "dm": {"n_iterations": 200}, "idm": {"n_iterations": 100, "network_interval": 10},
        "teacher": {"epochs": 100}, "sm": {"n_iterations": SM_ITERATIONS},
        "student_epochs": 1000, "coreset": {"scoring_epochs": 30},
        "seeds": [0],
        "cpu_budget": True,
    },
    "smoke": {
        "data": "digits", "max_per_class": None, "width": 8, "epochs": 5,
        "distilled_epochs": 20, "dsa_epochs": 20, "ipc": 2,
        "gm": {"n_iterations": 2},
        "mtt": {"n_iterations": 2, "n_experts": 2, "syn_steps": 2, "max_start_epoch": 2,
                "zca": False, "lr_img": 1.0},
        "dm": {"n_iterations": 2}, "idm": {"n_iterations": 2, "network_interval": 1},
        "teacher": {"epochs": 3}, "sm": {"n_iterations": 2}, "student_epochs": 5,
        "coreset": {"scoring_epochs": 2},
        "seeds": [0],
    },
}


def settings(profile: dict) -> dict:
    """A profile's settings as recorded: without its default seeds (each file names its own)."""
    return {k: v for k, v in profile.items() if k != "seeds"}


def convnet(profile: dict, device, seed, epochs=None, **kwargs):
    """ConvNet3 at the profile's width and epochs (``epochs`` may be a profile key)."""
    from sklearn_ltdd import ConvNetClassifier

    epochs = profile[epochs] if isinstance(epochs, str) else epochs
    params = {"module__width": profile["width"], "max_epochs": epochs or profile["epochs"],
              "device": device, "random_state": seed}
    params.update(kwargs)
    return ConvNetClassifier(**params)

"""
=====================================================
Monte-Carlo dropout: how honest is mean ± 2·std?
=====================================================

A network trained with dropout is, in the lesson's words, a committee of
sub-networks. ``predict(X, return_std=True)`` polls that committee: it runs
``n_mc_samples`` forward passes with dropout active (batch normalization
stays in inference mode) and returns the mean and the standard deviation of
the passes.

That standard deviation measures how much the sub-networks disagree. It
says nothing about the noise in the targets themselves, so an interval of
mean ± 2·std is expected to cover fewer than 95 % of new targets. This
example measures the coverage on held-out rows of the concrete data set, and
then widens the interval by the residual noise estimated on a calibration
split, which is the usual remedy.
"""

# %%
# Settings
# --------
# ``SKNORMNET_QUICK=1`` trains a narrower network for fewer epochs; figures
# go to ``SKNORMNET_EXAMPLES_OUT`` (default: ``./sknormnet-examples-output``).
import os
import warnings
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from scipy.special import erf
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sknormnet import NormNetRegressor
from sknormnet.datasets import load_concrete

QUICK = os.environ.get("SKNORMNET_QUICK") == "1"
OUTPUT = Path(os.environ.get("SKNORMNET_EXAMPLES_OUT", "sknormnet-examples-output"))
OUTPUT.mkdir(parents=True, exist_ok=True)
EPOCHS = 30 if QUICK else 400
WIDTH = 64 if QUICK else 256

# %%
# Three splits
# ------------
# 60 % of the mixtures train the network, 15 % calibrate the noise estimate
# and 25 % are kept for measuring coverage.
X, y = load_concrete(return_X_y=True)
X_rest, X_test, y_rest, y_test = train_test_split(X, y, test_size=0.25, random_state=0)
X_train, X_cal, y_train, y_cal = train_test_split(
    X_rest, y_rest, test_size=0.2, random_state=0
)

model = make_pipeline(
    StandardScaler(),
    NormNetRegressor(
        hidden_layer_sizes=(WIDTH, WIDTH),
        dropout_rate=0.1,
        learning_rate_init=0.003,
        batch_size=32,
        max_iter=EPOCHS,
        n_mc_samples=200,
        random_state=0,
    ),
)
with warnings.catch_warnings():
    warnings.simplefilter("ignore", category=ConvergenceWarning)
    model.fit(X_train, y_train)

# %%
# Polling the committee
# ---------------------
# ``Pipeline.predict`` hands ``return_std`` to the network. The masks come
# from ``random_state``, so the figures below are the same on every run.
mean_test, std_test = model.predict(X_test, return_std=True)
mean_cal, std_cal = model.predict(X_cal, return_std=True)
mae = np.mean(np.abs(mean_test - y_test))
print(f"test MAE of the Monte-Carlo mean: {mae:.2f} MPa")
print(f"median Monte-Carlo std on the test rows: {np.median(std_test):.2f} MPa")


def coverage(center, spread, target, k=2.0):
    """Fraction of targets inside center ± k·spread."""
    return float(np.mean(np.abs(target - center) <= k * spread))


# %%
# Adding the noise the committee cannot see
# -----------------------------------------
# On the calibration rows, the mean squared residual is the committee's
# variance plus the target noise; the difference estimates the noise
# variance, which is added to every test row's variance.
noise_var = max(0.0, float(np.mean((y_cal - mean_cal) ** 2 - std_cal**2)))
total_std = np.sqrt(std_test**2 + noise_var)
print(f"noise std estimated on the calibration rows: {np.sqrt(noise_var):.2f} MPa")

mc_only = coverage(mean_test, std_test, y_test)
with_noise = coverage(mean_test, total_std, y_test)
print(f"coverage of mean ± 2·std (dropout passes only): {mc_only:.1%}")
print(f"coverage of mean ± 2·std (passes + calibrated noise): {with_noise:.1%}")
print("nominal coverage of ± 2 standard deviations of a normal distribution: 95.4%")

# %%
# Coverage for every interval width
# ---------------------------------
# Left: the observed coverage of mean ± k·std against the coverage a normal
# distribution would give. Right: the test rows' errors against their
# Monte-Carlo standard deviation.
ks = np.linspace(0.25, 3.0, 12)
nominal = erf(ks / np.sqrt(2))  # P(|Z| <= k) for a standard normal Z
fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
left.plot(ks, nominal, "k--", label="normal distribution")
left.plot(
    ks,
    [coverage(mean_test, std_test, y_test, k) for k in ks],
    "o-",
    label="dropout passes",
)
left.plot(
    ks,
    [coverage(mean_test, total_std, y_test, k) for k in ks],
    "s-",
    label="passes + noise",
)
left.set_xlabel("k (interval = mean ± k·std)")
left.set_ylabel("fraction of test targets covered")
left.legend()
right.scatter(std_test, np.abs(y_test - mean_test), s=10, alpha=0.6)
right.set_xlabel("Monte-Carlo std (MPa)")
right.set_ylabel("|error| of the mean (MPa)")
fig.suptitle("Monte-Carlo dropout on held-out concrete mixtures")
fig.tight_layout()
fig.savefig(OUTPUT / "mc_dropout_coverage.png", dpi=100)

"""The documentation the two estimators share, written once.

``render`` fills a class docstring's ``{name}`` lines with the entries
below; an entry's own ``{mlp}`` and ``{score}`` fields name the estimator's
scikit-learn twin and its validation score. tests/test_docs.py checks that
both estimators' docstrings document every parameter, in the signature's
order, and that what they share has not drifted apart.
"""

from __future__ import annotations

PARAMETERS = {
    "batchnorm": """\
batchnorm : {'input', 'before_dense', 'before_activation', 'after_activation'} or None, default=None
    Where BatchNormalization layers go (see :meth:`describe_layers`):

    - ``None``: nowhere.
    - ``'input'``: one, first: an adaptive input scaler in place of a
      ``StandardScaler``.
    - ``'before_dense'``: in front of every Dense layer, the output layer
      included; the first one scales the input.
    - ``'before_activation'``: between each hidden Dense layer and its
      activation, as ``Dense (no bias) -> BatchNorm -> Activation``. The
      Dense bias is dropped because BatchNorm's centring (beta) does its
      job; BatchNorm's scale (gamma) is dropped too when the activation is
      'relu' or 'identity', whose output the next Dense layer rescales
      anyway.
    - ``'after_activation'``: after each hidden block, as
      ``Dense(activation) -> Dropout -> BatchNorm``.""",
    "batchnorm_momentum": """\
batchnorm_momentum : float in (0, 1), default=0.99
    Momentum of the moving mean and variance that BatchNormalization uses
    at prediction (Keras' default). Lower values track the training
    statistics faster, which helps when there are few steps per epoch.
    Only used when ``batchnorm`` is not None.""",
    "solver": """\
solver : {'adam', 'adamw', 'sgd', 'rmsprop'}, default='adam'
    The optimizer. With 'adamw', ``alpha`` is AdamW's decoupled weight
    decay on the kernels instead of an L2 term in the loss.""",
    "alpha": """\
alpha : float, default=0.0001
    Strength of the L2 penalty on the Dense kernels (not the biases, nor
    BatchNorm's parameters). As in {mlp}, the training objective is
    ``loss + 0.5 * alpha * ||W||^2 / batch_size`` (with ``n_members``, each
    member's loss and kernels: the penalty is divided by ``n_members``).
    With ``solver='adamw'``, the weight decay rate instead.""",
    "n_members": """\
n_members : int, default=1
    Number of independent networks trained side by side in one model, whose
    outputs are averaged: an ensemble in one fit. Every
    hidden layer's units are split evenly between the members (each of
    ``hidden_layer_sizes`` must be a multiple of ``n_members``): member
    ``k`` has ``hidden_layer_sizes[i] / n_members`` units in layer ``i``,
    connected only to its own units of the layer before. The objective is
    the mean of the members' own losses; they train on the same batches
    with their own Dropout masks and initial weights, and stop together
    (early stopping scores their averaged prediction). Predictions are the
    mean of the members' outputs (a classifier's members average their
    logits). ``coefs_`` hold the whole network as one MLP, its split layers
    as block-diagonal matrices. A split layer has ``1 / n_members`` of the
    weights and arithmetic of an unsplit layer of the same width, but many
    small products run slower on a CPU than one large one (see the user
    guide's "An ensemble in one network").""",
    "max_iter": """\
max_iter : int, default=200
    Number of epochs.""",
    "shuffle": """\
shuffle : bool, default=True
    Whether to reshuffle the rows before each pass over the data.""",
    "random_state": """\
random_state : int, RandomState instance or None, default=None
    Seeds everything random in a fit: the initial weights, the Dropout
    masks, the shuffling and the early-stopping split, all drawn from the
    estimator's own generator (and the seed arguments of Keras' layers
    where a fit runs Keras' ``Model.fit``): an int gives the same network
    and predictions on every fit, on TensorFlow and JAX alike. None draws
    fresh entropy from the operating system. Nothing process-global is
    seeded or consumed in either case: NumPy's and Python's global RNGs,
    Keras' global seed and TensorFlow's determinism setting are left
    alone.""",
    "momentum": """\
momentum : float in [0, 1], default=0.9
    Momentum of gradient descent. Only used when ``solver='sgd'``;
    ``momentum=0`` is plain stochastic gradient descent.""",
    "nesterovs_momentum": """\
nesterovs_momentum : bool, default=True
    Whether to use Nesterov's momentum. Only used when ``solver='sgd'``
    and ``momentum > 0``.""",
    "beta_1": """\
beta_1 : float in [0, 1), default=0.9
    Decay rate of the first-moment estimates. Only used when ``solver``
    is 'adam' or 'adamw'.""",
    "beta_2": """\
beta_2 : float in [0, 1), default=0.999
    Decay rate of the second-moment estimates. Only used when ``solver``
    is 'adam' or 'adamw'.""",
    "epsilon": """\
epsilon : float, default=1e-8
    Numerical-stability constant. Only used when ``solver`` is 'adam',
    'adamw' or 'rmsprop'. (Keras' own default is 1e-7; this is {mlp}'s.)""",
    "learning_rate": """\
learning_rate : {'constant', 'invscaling', 'adaptive'}, default='constant'
    Learning-rate schedule, as in {mlp}. Only used when
    ``solver='sgd'``.

    - 'constant': ``learning_rate_init`` throughout.
    - 'invscaling': after each epoch, ``learning_rate_init / (t_ + 1) **
      power_t``.
    - 'adaptive': ``learning_rate_init`` as long as the monitored quantity
      (training loss, or validation {score} with ``early_stopping``)
      improves; each time more than ``n_iter_no_change`` consecutive
      epochs fail to improve it by ``tol``, the rate is divided by 5, as in
      {mlp}. When that happens at a rate of 1e-6 or less, training stops
      instead.""",
    "power_t": """\
power_t : float, default=0.5
    Exponent of 'invscaling'. Only used when ``solver='sgd'`` and
    ``learning_rate='invscaling'``.""",
    "validation_fraction": """\
validation_fraction : float in (0, 1), default=0.1
    Fraction of the training rows (or groups) held out for early
    stopping. Only used when ``early_stopping=True`` and no ``X_val``.""",
    "n_iter_no_change": """\
n_iter_no_change : int or np.inf, default=10
    Training stops once more than ``n_iter_no_change`` consecutive epochs
    failed to improve by ``tol``: the validation {score} with
    ``early_stopping``, else the training loss (as in {mlp}, stopping
    on the training loss is always on). ``np.inf`` never stops early:
    training runs ``max_iter`` epochs.""",
    "tol": """\
tol : float, default=1e-4
    Tolerance of the stopping rule and of the 'adaptive' schedule.""",
    "callbacks": """\
callbacks : list of keras.callbacks.Callback, default=None
    Keras callbacks run during training. A fit with callbacks trains with
    Keras' own ``Model.fit``, on a Keras model built for that fit alone
    (``callbacks_[i].model``; its output layer gives the raw outputs, a
    classifier's logits, side by side for each member with ``n_members >
    1``), so that every Keras callback works as in Keras;
    Keras traces its train step anew for each such fit, which costs about a
    second. Each fit uses deep copies of the callbacks (kept in
    ``callbacks_``), so the parameter itself is never modified, and cloned
    estimators in a grid search each get their own.""",
    "verbose": """\
verbose : int, default=0
    With ``verbose > 0`` one line per epoch is printed (loss, elapsed
    time). With 0, nothing is printed, at fit or predict time.""",
}

ATTRIBUTES = {
    "model_": """\
model_ : keras.Sequential
    The fitted network as a compiled Keras model, with its optimizer state,
    loss and L2 penalty, built when first read. A copy: changing it changes
    neither the predictions nor later training (``warm_start``,
    :meth:`partial_fit`). With ``n_members > 1`` it ends with a layer that
    takes the members' mean, and its loss is the loss of that mean: its own
    ``fit`` trains the members jointly, not each on its own loss as the
    estimator does (continue the estimator's training with ``warm_start``
    or :meth:`partial_fit` instead).""",
    "history_": """\
history_ : dict
    Per-epoch metrics as plain lists: ``'loss'``, and when validation
    data was scored ``'val_loss'`` (same loss and penalty as ``'loss'``)
    and ``'val_score'`` ({score}).""",
    "loss_": """\
loss_ : float
    The training loss of the last epoch (penalty included).""",
    "loss_curve_": """\
loss_curve_ : list of float
    The training loss of each epoch (penalty included), across
    warm-started fits and ``partial_fit`` calls.""",
    "best_loss_": """\
best_loss_ : float or None
    The lowest training loss reached; None when ``early_stopping=True``.""",
    "best_validation_score_": """\
best_validation_score_ : float or None
    The best validation {score}, or None as ``validation_scores_``.""",
    "n_iter_": """\
n_iter_ : int
    The number of epochs run by the last call to ``fit``/``partial_fit``.""",
    "t_": """\
t_ : int
    The number of training rows seen since the network was built.""",
    "callbacks_": """\
callbacks_ : list of keras.callbacks.Callback
    The copies of ``callbacks`` used by the last fit.""",
    "coefs_": """\
coefs_ : list of ndarray of shape (n_fan_in, n_fan_out)
    The kernels of the inference-mode network, every BatchNormalization
    folded into the adjacent Dense layer; the prediction methods use these.
    Without batchnorm they are the trained kernels.""",
    "intercepts_": """\
intercepts_ : list of ndarray of shape (n_fan_out,)
    The biases of the inference-mode network, folded likewise.""",
    "n_layers_": """\
n_layers_ : int
    Number of layers of the folded network, input and output included.""",
    "n_features_in_": """\
n_features_in_ : int
    Number of features seen during fit.""",
    "feature_names_in_": """\
feature_names_in_ : ndarray of shape (n_features_in_,)
    Names of the features seen during fit, when X had string column names.""",
}


NOTES = {
    "epochs": """\
Rows are shuffled by the estimator, not by Keras, so that ``random_state``
makes fits reproducible without global seeding. Each epoch is one pass
over the reshuffled rows in ``ceil(n_samples / batch_size)`` full
batches: when the pass does not fill the last batch, the batch is
completed with rows of the same pass drawn again, which count zero in the
loss (BatchNormalization still never sees a tiny batch), and the pass's
own rows in it count as a batch of their own, as in MLPRegressor's last
batch. Every row is trained on once per epoch, and ``loss_curve_`` is the
mean loss over the pass.""",
}


def render(template: str, *, mlp: str, score: str) -> str:
    """``template`` with each line holding only ``{name}`` replaced by that entry.

    The entry is indented like the placeholder; other lines are kept as they
    are (so literal braces elsewhere need no escaping).
    """
    shared = {**PARAMETERS, **ATTRIBUTES, **NOTES}
    lines = []
    for line in template.splitlines():
        name = line.strip()
        if name.startswith("{") and name.endswith("}") and name[1:-1] in shared:
            indent = line[: len(line) - len(line.lstrip())]
            entry = shared[name[1:-1]].replace("{mlp}", mlp)
            entry = entry.replace("{score}", score)
            lines.extend(indent + row if row else row for row in entry.splitlines())
        else:
            lines.append(line)
    return "\n".join(lines)

"""Scorers for ``GridSearchCV`` and ``cross_val_score``.

Use ``scoring="balanced_accuracy"`` (scikit-learn's) for the mean per-class
accuracy; the scorers below add the paper's spread and the worst class.
"""

from sklearn.metrics import make_scorer

from ._long_tail import class_accuracy_std, worst_class_accuracy

#: Negated "Acc Std" (higher is better, as scikit-learn scorers require).
acc_std_scorer = make_scorer(class_accuracy_std, greater_is_better=False)

#: Accuracy of the worst class.
worst_class_scorer = make_scorer(worst_class_accuracy)

"""No operation silently promotes float32 to float64 during training.

The model, its data and its constants are deliberately mixed: sklearn returns
float64 arrays, the initial weights are drawn in float64, and the training
loop scales by NumPy float64 scalars. Everything the model computes and every
gradient must still be float32.
"""

import numpy as np
from sklearn.datasets import load_digits

import lunarlearn.functional as F
from lunarlearn import Module, Parameter, Tensor


class TwoLayerMLP(Module):
    def __init__(self, in_features, hidden, classes, rng):
        super().__init__()
        # float64 draws: Parameter must store them as float32.
        self.w1 = Parameter(rng.standard_normal((in_features, hidden)) * 0.1)
        self.b1 = Parameter(np.zeros(hidden))
        self.w2 = Parameter(rng.standard_normal((hidden, classes)) * 0.1)
        self.b2 = Parameter(np.zeros(classes))
        self.activations = []

    def forward(self, x):
        hidden = F.relu(F.matmul(x, self.w1) + self.b1)
        logits = F.matmul(hidden, self.w2) + self.b2
        log_probs = F.log_softmax(logits, axis=-1)
        self.activations = [hidden, logits, log_probs]
        return log_probs


def nll_loss(log_probs, targets):
    picked = log_probs[np.arange(len(targets)), targets]
    return -picked.mean()


def test_training_stays_float32():
    digits = load_digits()
    assert digits.data.dtype == np.float64
    x_raw, targets = digits.data[:256], digits.target[:256]
    scale = np.float64(1.0 / 16.0)
    x = Tensor(x_raw) * scale

    model = TwoLayerMLP(64, 32, 10, np.random.default_rng(0))
    for name, param in model.named_parameters():
        assert param.dtype == np.float32, name

    lr = np.float64(0.5)
    weight_decay = np.float64(1e-4)
    losses = []
    for _ in range(5):
        model.zero_grad()
        log_probs = model(x)
        penalty = weight_decay * ((model.w1 * model.w1).sum() + (model.w2**2).sum())
        loss = nll_loss(log_probs, targets) + penalty
        assert loss.dtype == np.float32
        for index, activation in enumerate(model.activations):
            assert activation.dtype == np.float32, f"activation {index}"
        loss.backward()
        losses.append(loss.item())

        for name, param in model.named_parameters():
            assert param.grad is not None, name
            assert param.grad.dtype == np.float32, f"{name} grad"
            param.data -= lr * param.grad
            assert param.data.dtype == np.float32, name

    assert losses[-1] < losses[0] - 0.1, losses
    assert all(b < a for a, b in zip(losses, losses[1:], strict=False)), losses

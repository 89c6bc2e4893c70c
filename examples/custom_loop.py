"""Train a Module subclass with a hand-written loop on scikit-learn's digits."""

import lunarlearn as ll
from lunarlearn_data import DataLoader, Digits, split_tail
from lunarlearn_layers import Accuracy, CrossEntropy, Dense
from lunarlearn_optim import Adam


class MLP(ll.Module):
    def __init__(self, hidden=64, classes=10):
        super().__init__()
        self.hidden = Dense(hidden, activation="relu")
        self.out = Dense(classes)

    def forward(self, x):
        return self.out(self.hidden(x))


def main():
    ll.manual_seed(0)
    train, val = split_tail(Digits(), 0.2)
    loader = DataLoader(train, batch_size=32, shuffle=True, seed=0)
    model = MLP()
    # Build the lazy layers, so that the optimizer gets their parameters.
    model(ll.Tensor(train[:1][0]))
    loss_fn = CrossEntropy()
    optimizer = Adam(model.parameters(), lr=1e-3)

    for epoch in range(10):
        model.train()
        for x, y in loader:
            loss = loss_fn(model(ll.Tensor(x)), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()

        model.eval()
        accuracy = Accuracy()
        with ll.no_grad():
            for x, y in DataLoader(val, batch_size=256):
                accuracy.update(model(ll.Tensor(x)).data, y)
        print(
            f"epoch {epoch + 1}: loss {loss.item():.4f}, "
            f"val accuracy {accuracy.result():.4f}"
        )


if __name__ == "__main__":
    main()

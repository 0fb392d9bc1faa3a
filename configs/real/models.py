"""Models as people have them: tiny Hugging Face models built from configs (no download), and a
minGPT-style GPT. trainlint probes them as they are: no wrapper module.

The Hugging Face factories need the optional extra: `pip install -e ".[hf]"`.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def _transformers():
    try:
        import transformers
    except ImportError:
        raise ImportError("these configs need Hugging Face transformers: pip install -e \".[hf]\"") from None
    transformers.logging.set_verbosity_error()
    return transformers


def bert_classifier(vocab_size: int = 32, num_labels: int = 2, hidden: int = 32, layers: int = 2):
    """`BertForSequenceClassification` at toy size; returns a `SequenceClassifierOutput`."""
    t = _transformers()
    config = t.BertConfig(vocab_size=vocab_size, hidden_size=hidden, num_hidden_layers=layers, num_attention_heads=2,
                          intermediate_size=2 * hidden, max_position_embeddings=64, num_labels=num_labels)
    return t.BertForSequenceClassification(config)


def gpt2_lm(vocab_size: int = 16, hidden: int = 32, layers: int = 2, context: int = 32):
    """`GPT2LMHeadModel` at toy size; with `labels` it computes the shifted next-token loss itself."""
    t = _transformers()
    config = t.GPT2Config(vocab_size=vocab_size, n_positions=context, n_embd=hidden, n_layer=layers, n_head=2,
                          bos_token_id=0, eos_token_id=0)
    return t.GPT2LMHeadModel(config)


def vit_classifier(image_size: int = 16, num_labels: int = 4, hidden: int = 32, layers: int = 2):
    """`ViTForImageClassification` at toy size; returns an `ImageClassifierOutput`."""
    t = _transformers()
    config = t.ViTConfig(image_size=image_size, patch_size=4, num_channels=3, hidden_size=hidden,
                         num_hidden_layers=layers, num_attention_heads=2, intermediate_size=2 * hidden,
                         num_labels=num_labels)
    return t.ViTForImageClassification(config)


class MinGPT(nn.Module):
    """minGPT's interface: `forward(idx, targets=None)` → `(logits, loss)`; causal attention blocks."""

    def __init__(self, vocab_size: int = 16, block_size: int = 24, n_embd: int = 32, n_layer: int = 2):
        super().__init__()
        self.tok = nn.Embedding(vocab_size, n_embd)
        self.pos = nn.Embedding(block_size, n_embd)
        self.blocks = nn.ModuleList(nn.TransformerEncoderLayer(n_embd, 2, 2 * n_embd, dropout=0.0, batch_first=True,
                                                               norm_first=True) for _ in range(n_layer))
        self.ln_f = nn.LayerNorm(n_embd)
        self.head = nn.Linear(n_embd, vocab_size, bias=False)
        self.register_buffer("causal", torch.triu(torch.full((block_size, block_size), float("-inf")), 1))

    def forward(self, idx, targets=None):
        t = idx.shape[1]
        x = self.tok(idx) + self.pos(torch.arange(t, device=idx.device))
        for block in self.blocks:
            x = block(x, src_mask=self.causal[:t, :t])
        logits = self.head(self.ln_f(x))
        loss = None
        if targets is not None:
            loss = F.cross_entropy(logits.view(-1, logits.size(-1)), targets.view(-1), ignore_index=-1)
        return logits, loss


class WordLM(nn.Module):
    """pytorch/examples' word_language_model RNNModel: time-major LSTM, `forward(input, hidden)`
    → (log-probabilities flattened to (T·B, V), hidden), `init_hidden(bsz)`."""

    def __init__(self, ntoken: int = 8, ninp: int = 32, nhid: int = 32, nlayers: int = 1):
        super().__init__()
        self.encoder = nn.Embedding(ntoken, ninp)
        self.rnn = nn.LSTM(ninp, nhid, nlayers)
        self.decoder = nn.Linear(nhid, ntoken)
        self.ntoken, self.nhid, self.nlayers = ntoken, nhid, nlayers

    def forward(self, input, hidden):
        output, hidden = self.rnn(self.encoder(input), hidden)
        decoded = self.decoder(output).view(-1, self.ntoken)
        return F.log_softmax(decoded, dim=1), hidden

    def init_hidden(self, bsz):
        weight = next(self.parameters())
        return (weight.new_zeros(self.nlayers, bsz, self.nhid), weight.new_zeros(self.nlayers, bsz, self.nhid))


class VAE(nn.Module):
    """pytorch/examples' VAE shape: `forward(x)` → `(recon, mu, logvar)`."""

    def __init__(self, dim: int = 16, hidden: int = 32, latent: int = 4):
        super().__init__()
        self.enc = nn.Linear(dim, hidden)
        self.mu, self.logvar = nn.Linear(hidden, latent), nn.Linear(hidden, latent)
        self.dec1, self.dec2 = nn.Linear(latent, hidden), nn.Linear(hidden, dim)

    def forward(self, x):
        h = F.relu(self.enc(x))
        mu, logvar = self.mu(h), self.logvar(h)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        return self.dec2(F.relu(self.dec1(z))), mu, logvar


def vae_loss():
    """pytorch/examples' loss_function(recon_x, x, mu, logvar), taking the model's whole output."""

    def loss(output, x):
        recon, mu, logvar = output
        mse = F.mse_loss(recon, x, reduction="sum") / x.shape[0]
        kld = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp()) / x.shape[0]
        return mse + kld

    return loss

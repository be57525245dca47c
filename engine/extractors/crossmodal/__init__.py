"""Cross-modal extractors: features that read what two modalities wrote (cuts on the beat)."""

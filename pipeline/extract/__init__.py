"""spaCy stage: loading, actor normalisation, sentence features."""

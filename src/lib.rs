//! Cross-language contract tests live in tests/.

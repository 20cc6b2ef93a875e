"""Known wrong answers (Mistake objects with stable tags and hints), one module per topic; never a correct answer."""

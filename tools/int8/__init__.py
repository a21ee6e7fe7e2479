"""The int8 mobilenet_thin build chain (``make int8``): rewrite, quantize, correct, fine-tune, tidy."""

"""Part 4: QLoRA of BLOOM with peft + bitsandbytes, and the French Q/A data it trains on."""

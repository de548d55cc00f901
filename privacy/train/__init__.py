"""Tuning corpus and training script for Bastion's learned detector (see train_ner.py)."""

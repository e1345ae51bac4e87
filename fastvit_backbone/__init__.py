"""FastViT (Vasu et al., ICCV 2023): RepMixer stages, train-time overparameterization, structural reparameterization."""

"""FastViT (Vasu et al., ICCV 2023): RepMixer stages, train-time overparameterization, structural reparameterization.

Typical use::

    from fastvit_backbone import create_model, reparameterize_model

    model = create_model("fastvit_t8", num_classes=0, checkpoint_path="fastvit_t8.pth.tar").eval()
    feats = model.forward_features(images)          # stages (strides 4/8/16/32), final map, pooled vector
    fast = reparameterize_model(model)              # same outputs, single-branch inference form
"""

from fastvit_backbone.checkpoint import LoadResult, load_checkpoint, read_state_dict
from fastvit_backbone.errors import BackboneError, CheckpointError, InputShapeError, UnknownVariantError
from fastvit_backbone.factory import create_model, get_variant, list_models
from fastvit_backbone.model import FastVit, FastVitFeatures
from fastvit_backbone.reparam import is_reparameterized, reparameterize_model
from fastvit_backbone.variants import VARIANTS, FastVitVariant

__all__ = [
    "VARIANTS",
    "BackboneError",
    "CheckpointError",
    "FastVit",
    "FastVitFeatures",
    "FastVitVariant",
    "InputShapeError",
    "LoadResult",
    "UnknownVariantError",
    "create_model",
    "get_variant",
    "is_reparameterized",
    "list_models",
    "load_checkpoint",
    "read_state_dict",
    "reparameterize_model",
]

"""Campaigns: the crash-safe record of an active-learning campaign (:class:`CampaignStore`).

:class:`Campaign` runs the campaign (suggest, observe, run), acquisition strategies come by name
(:func:`get_strategy`, :data:`STRATEGIES`) and :meth:`Campaign.run` stops by rules such as
:class:`Budget`, :class:`TargetStd` and :class:`Stalled`.
"""

from mtgp_kinetics.campaign.acquisition import STRATEGIES, get_strategy
from mtgp_kinetics.campaign.campaign import Campaign, StopReport
from mtgp_kinetics.campaign.errors import CampaignBusyError, CampaignStoreError, SuggestionConflict
from mtgp_kinetics.campaign.stopping import Budget, CostBudget, Stalled, TargetStd
from mtgp_kinetics.campaign.store import CampaignStore

__all__ = [
    "STRATEGIES",
    "Budget",
    "Campaign",
    "CampaignBusyError",
    "CampaignStore",
    "CampaignStoreError",
    "CostBudget",
    "Stalled",
    "StopReport",
    "SuggestionConflict",
    "TargetStd",
    "get_strategy",
]

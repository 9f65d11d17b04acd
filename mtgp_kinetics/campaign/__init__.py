"""Campaigns: the crash-safe record of an active-learning campaign (:class:`CampaignStore`)."""

from mtgp_kinetics.campaign.errors import CampaignBusyError, CampaignStoreError
from mtgp_kinetics.campaign.store import CampaignStore

__all__ = ["CampaignBusyError", "CampaignStore", "CampaignStoreError"]
